"""``bankbench report``: runs from one or more stores → HTML, PDF and Markdown."""
