"""hackserver: runs a 48-hour online hackathon in real time."""
