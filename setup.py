"""Ship the data folders profiles/, terminology/ and mappings/ inside the package when built.

They live at the repository root (DESIGN.md) and are read there in a checkout or an
editable install; a wheel carries them as fhir_server/content/ (definitions/content.py
looks in both places). Everything else is configured in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CONTENT_FOLDERS = ("profiles", "terminology", "mappings")  # content.DATA_FOLDERS
# sources and generators of the JSON, not content
SKIPPED = frozenset({"fsh", "tools"})


class BuildPyWithContent(build_py):
    def run(self) -> None:
        super().run()
        for folder in CONTENT_FOLDERS:
            for source in sorted((ROOT / folder).rglob("*")):
                relative = source.relative_to(ROOT)
                if not source.is_file() or SKIPPED.intersection(relative.parts):
                    continue
                if source.suffix not in (".json", ".md", ".toml"):
                    continue
                target = Path(self.build_lib) / "fhir_server" / "content" / relative
                self.mkpath(str(target.parent))
                self.copy_file(str(source), str(target))


setup(cmdclass={"build_py": BuildPyWithContent})
