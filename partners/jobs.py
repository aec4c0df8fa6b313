"""RQ jobs of the affiliate pages, run by the delivery worker (the "mail" queue). They take
primitive ids and call a service."""

from partners.sign_in import sign_in_links_send


def send_sign_in_links(affiliate_ids: list[int], base_url: str, language: str) -> None:
    sign_in_links_send(affiliate_ids=affiliate_ids, base_url=base_url, language=language)
