"""The shop site: 5,000 generated products, BM25 search, product options, purchase-time reward."""

from rlft.envs.web.sites.shop.site import ShopSite

__all__ = ["ShopSite"]
