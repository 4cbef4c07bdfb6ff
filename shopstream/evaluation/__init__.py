"""Offline evaluation of the recommenders on real sessions: the static (session-rec) and
online protocols, blend-weight tuning on a validation split, HR@K / MRR@K / coverage /
latency."""
