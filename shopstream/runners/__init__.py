"""Runners: the embedded one (default), later a distributed engine adapter."""

from __future__ import annotations
