"""The normalised skill list: what people type ("js", "UX") becomes one canonical name."""

from __future__ import annotations

import re

SKILLS: dict[str, tuple[str, ...]] = {
    "python": ("py", "python3", "django", "flask"),
    "javascript": ("js", "node", "nodejs", "typescript", "ts", "react", "vue"),
    "java": ("kotlin", "spring"),
    "go": ("golang",),
    "rust": (),
    "c#": ("csharp", "dotnet", ".net"),
    "php": ("laravel",),
    "mobile": ("ios", "android", "swift", "flutter", "app"),
    "frontend": ("html", "css", "web"),
    "backend": ("api", "server"),
    "data science": ("data", "datascience", "ml", "machine learning", "ai", "statistics", "statistik"),
    "databases": ("sql", "postgres", "postgresql", "database", "datenbanken"),
    "devops": ("cloud", "docker", "kubernetes", "k8s", "ops"),
    "security": ("infosec", "it security", "sicherheit"),
    "design": ("ux", "ui", "ux design", "ui design", "gestaltung", "figma"),
    "product": ("product management", "pm", "produkt"),
    "project management": ("projektmanagement", "organisation", "agile", "scrum"),
    "law": ("legal", "recht", "jura"),
    "medicine": ("health", "medizin", "gesundheit", "care", "pflege"),
    "public administration": ("verwaltung", "government", "egovernment", "e-government"),
    "communication": ("marketing", "pr", "social media", "kommunikation", "writing", "text"),
    "video": ("film", "pitch video", "editing"),
    "research": ("forschung", "science", "wissenschaft"),
    "business": ("finance", "bwl", "wirtschaft", "business model", "geschäftsmodell"),
    "hardware": ("iot", "arduino", "raspberry pi", "electronics", "elektronik"),
}
_CANONICAL = {alias: name for name, aliases in SKILLS.items() for alias in (name, *aliases)}
MAX_SKILLS = 12


def normalise(raw: str) -> str:
    """The canonical name of a skill; unknown skills are kept, tidied, so nobody is turned away."""
    key = re.sub(r"\s+", " ", raw.strip().lower())
    return _CANONICAL.get(key, key)
