"""The dashboard in a checkout: ``streamlit run dashboard.py [-- RUNS]``.

The page lives in the package (:mod:`nasbench.dashboard.page`), so an installed nasbench serves it
too: ``nasbench dashboard [RUNS]``.
"""

from nasbench.dashboard.page import main

main()
