from postman_shared.settings import Settings
from postman_shared.startup_checks import run_or_explain
from postman_stats.bootstrap import build


def main() -> None:
    run_or_explain("stats", lambda: build(Settings.from_env()).run())


if __name__ == "__main__":
    main()
