"""A faithful fake of the VPCEP v1 and IAM token APIs (design.md §5). The dashboard never imports it."""
