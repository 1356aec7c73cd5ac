from postman_shared.settings import Settings
from postman_stats.bootstrap import build


def main() -> None:
    build(Settings.from_env()).run()


if __name__ == "__main__":
    main()
