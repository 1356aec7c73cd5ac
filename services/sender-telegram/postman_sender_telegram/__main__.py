from postman_sender_telegram.bootstrap import build
from postman_shared.settings import Settings


def main() -> None:
    build(Settings.from_env()).run()


if __name__ == "__main__":
    main()
