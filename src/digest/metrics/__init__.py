"""The metrics engine (CONTRACT.md §2-§6): people, matching, interactions, the session's arrays, time and the cards.

May import the kernel and sources; never email, audit, delivery, pipeline, cli or airflow. Public: compute_cards and friends.
"""

from digest.metrics.engine import compute_cards, compute_cards_and_interactions, list_sellers, seller_interactions, seller_scope

__all__ = ["compute_cards", "compute_cards_and_interactions", "list_sellers", "seller_interactions", "seller_scope"]
