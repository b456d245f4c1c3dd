"""Layer 2 (pure): validated catalog and stack -> Kubernetes objects, Helm releases, AWS shape.

camelCase Kubernetes field names appear here and only here. Output is deterministic.
"""
