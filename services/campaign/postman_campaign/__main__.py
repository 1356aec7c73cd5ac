from postman_campaign.bootstrap import build
from postman_shared.settings import Settings
from postman_shared.startup_checks import run_or_explain


def main() -> None:
    run_or_explain("campaign", lambda: build(Settings.from_env()).run())


if __name__ == "__main__":
    main()
