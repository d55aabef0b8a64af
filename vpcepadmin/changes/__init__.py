"""Changes to the cloud and the guarantees every one of them has (design.md §6b).

``targets``: what a change is made to, identified by the cloud's own coordinates; the open attempt
that holds it. ``verdicts``: what a re-read proves about an attempt whose answer was lost.
``reconciliation``: settling the attempts a crash left open.
"""
