"""Demand response (001a_book.md §2 and 001b_book.md chapter 8).

Two parts live here, each in its own modules:

- S6, learned prosumer scheduling with a two-stage DR settlement (chapter 7 of the first book):
  :mod:`~peergrid.mechanisms.dr.scheduling` (the prosumers' private model and Eq. 1),
  :mod:`~peergrid.mechanisms.dr.learning` (Q-learning with experience replay),
  :mod:`~peergrid.mechanisms.dr.two_stage` (uniform clearing, DR price, final settlement) and
  :mod:`~peergrid.mechanisms.dr.aggregator` (the centralised incentive-based baseline).
- S7, DR contracts with baselines, rewards, penalties and stake-weighted verification
  (chapter 8 of the second book): :mod:`~peergrid.mechanisms.dr.baselines` (baseline, delivered
  flexibility, reward and penalty) and :mod:`~peergrid.mechanisms.dr.stake` (coin-age stake and
  the two-thirds quorum), the rules ``DrEvents.vy`` applies on chain.
"""
