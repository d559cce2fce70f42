"""Print the requirements of gpugrad's build, its dependencies and the named extras, one a line,
read from pyproject.toml alone: the Docker image installs them in a layer of their own, before
the source is copied, so that editing the code does not reinstall CuPy, SciPy or matplotlib.

    python docker/requirements.py cuda13 demo > requirements.txt

``--pyproject PATH`` reads another pyproject.toml (default: the one in the working directory).
"""
import argparse
import re
import sys


def requirements(pyproject, extras):
    """The build-system requirements, the dependencies and those of each extra in ``extras``,
    in that order and without repeats; ValueError naming an extra that pyproject.toml lacks."""
    import tomllib  # Python 3.11+ (the image's is 3.12); image_extras() works without it

    with open(pyproject, "rb") as f:
        config = tomllib.load(f)
    optional = config["project"].get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise ValueError(f"{pyproject} has no extra {', '.join(map(repr, unknown))}; "
                         f"its extras are {', '.join(sorted(optional))}")
    found = [*config["build-system"]["requires"], *config["project"].get("dependencies", [])]
    for extra in extras:
        found += optional[extra]
    return list(dict.fromkeys(found))


def image_extras(dockerfile):
    """The extras the Dockerfile installs: the arguments of its ``docker/requirements.py``."""
    with open(dockerfile, encoding="utf-8") as f:
        match = re.search(r"python docker/requirements\.py ([\w ]+?) >", f.read())
    if match is None:
        raise ValueError(f"{dockerfile} does not run `python docker/requirements.py EXTRA ... >`")
    return match.group(1).split()


def main(argv=None):
    """Print the requirements; exit status 2 for an unknown extra."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("extras", nargs="*", help="extras of pyproject.toml to include")
    parser.add_argument("--pyproject", default="pyproject.toml", help="(pyproject.toml)")
    args = parser.parse_args(argv)
    try:
        print("\n".join(requirements(args.pyproject, args.extras)))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
