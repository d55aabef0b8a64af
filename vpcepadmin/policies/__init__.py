"""Policy guardrails: rules per environment that every change to the cloud is checked against.

The rules are rows (``models.PolicyRule``) that admins change on ``/policies/``; what each rule means
is declared once in ``declared``; ``rules`` evaluates a change against them (the change pipeline,
the edit form, the review page and the whitelist pages ask it), ``services`` changes a rule.
"""
