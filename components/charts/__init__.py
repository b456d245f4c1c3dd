"""The add-on charts rendered by a real Helm engine: where the charts are, fetching them, rendering
them with the exact values modelplane passes, and the checks that need them.

Sits between render (whose releases it renders) and review/cli (which print and compare them).
"""
