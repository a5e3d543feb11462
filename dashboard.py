"""The dashboard in a checkout: ``streamlit run dashboard.py [-- RUNS]``.

The page lives in the package (:mod:`nasbench.dashboard`), so an installed nasbench serves it
too: ``nasbench dashboard [RUNS]``.
"""

from nasbench.dashboard import main

main()
