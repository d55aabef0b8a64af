"""Clouds, regions and the endpoints derived from them (vpcep-api.md §11)."""

from __future__ import annotations

from dataclasses import dataclass

HUAWEI = "huawei"
OTC = "otc"
CLOUD_CHOICES = [(HUAWEI, "Huawei Cloud"), (OTC, "Open Telekom Cloud")]

HUAWEI_REGIONS = [
    "af-north-1", "af-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-north-1", "cn-north-2",
    "cn-north-4", "cn-north-9", "cn-north-11", "cn-north-12", "cn-south-1", "cn-south-2", "cn-south-4",
    "cn-southwest-2", "cn-southwest-3", "eu-west-0", "eu-west-101", "la-north-2", "la-south-2", "me-east-1",
    "my-kualalumpur-1", "na-mexico-1", "ru-moscow-1", "ru-northwest-2", "sa-brazil-1", "tr-west-1", "ae-ad-1",
]  # fmt: skip
OTC_REGIONS = ["eu-de", "eu-nl", "eu-ch2"]
REGIONS = {HUAWEI: HUAWEI_REGIONS, OTC: OTC_REGIONS}


@dataclass(frozen=True)
class Endpoints:
    vpcep: str
    iam: str


def default_endpoints(cloud: str, region: str) -> Endpoints:
    """The public endpoints of a cloud region. Raises ``ValueError`` for an unknown pair."""
    if region not in REGIONS.get(cloud, []):
        raise ValueError(f"unknown region {region!r} for cloud {cloud!r}")
    if cloud == OTC:
        if region == "eu-ch2":
            # NOTE: the VPCEP host is inferred from the Swiss naming pattern (vpcep-api.md §11).
            return Endpoints(
                "https://vpcep.eu-ch2.sc.otc.t-systems.com", "https://iam-pub.eu-ch2.sc.otc.t-systems.com"
            )
        return Endpoints(
            f"https://vpcep.{region}.otc.t-systems.com", f"https://iam.{region}.otc.t-systems.com"
        )
    if region == "eu-west-101":
        return Endpoints(
            "https://vpcep.eu-west-101.myhuaweicloud.eu", "https://iam.eu-west-101.myhuaweicloud.eu"
        )
    return Endpoints(f"https://vpcep.{region}.myhuaweicloud.com", f"https://iam.{region}.myhuaweicloud.com")
