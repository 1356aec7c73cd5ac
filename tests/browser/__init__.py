"""Browser tests of the officers' web interface: Debian's Chromium driven by Playwright, audited by axe-core."""
