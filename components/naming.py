"""Names derived from content, so that a change of content is a change of name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

HASH_LENGTH = 10


def content_hash(data: Mapping[str, str]) -> str:
    """A short, stable digest of a mapping (key order does not matter).

    Used like Kustomize's ConfigMap generator: the ConfigMap's name ends in this digest, so a
    changed variable gives a new ConfigMap, the Deployment's reference to it changes and the pods
    roll. Only ever applied to non-secret data: a digest of a secret would leak it to brute force.
    """
    canonical = json.dumps(dict(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]
