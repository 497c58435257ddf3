"""Interviews as an application: views, compare-and-set transitions, and the services the
API and the worker share."""
