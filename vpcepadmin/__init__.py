"""vpcepadmin: a dashboard for operators of VPC endpoint services (Huawei Cloud, Open Telekom Cloud)."""
