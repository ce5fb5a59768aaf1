"""Airflow plugin: the seller-digest admin pages (run reports, upload validation reports) in the UI.

No logic here: the pages live in digest.airflow.admin, behind Airflow's auth manager.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from digest.airflow.admin import create_app

URL_PREFIX = "/seller-digest"


class SellerDigestPlugin(AirflowPlugin):
    name = "seller_digest"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "seller-digest admin"}]
    # a menu entry that shows the pages inside the Airflow UI (same origin, so the login cookie applies)
    external_views = [{"name": "Seller digest", "href": f"{URL_PREFIX}/", "url_route": "seller-digest", "destination": "nav"}]
