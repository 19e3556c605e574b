"""The authority side: storage, authoritative answers, writes, permissions, authentication."""
