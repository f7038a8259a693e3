"""Firefox for the IDE flows, through Marionette (PyPI `marionette_driver`).

Debian packages Firefox ESR but not geckodriver, so selenium cannot drive Firefox here.
Marionette is Firefox's own remote protocol, which geckodriver itself speaks to. This adapter
gives the flows the part of selenium's WebDriver they use, and raises selenium's exceptions,
so `WebDriverWait` and `expected_conditions` work unchanged.
"""
import functools
import socket

from marionette_driver import errors
from marionette_driver.marionette import Marionette
from selenium.common import exceptions as selenium_errors

_TRANSLATED = {
    errors.NoSuchElementException: selenium_errors.NoSuchElementException,
    errors.StaleElementException: selenium_errors.StaleElementReferenceException,
    errors.ElementNotInteractableException: selenium_errors.ElementNotInteractableException,
    errors.ElementClickInterceptedException: selenium_errors.ElementClickInterceptedException,
    errors.NoSuchWindowException: selenium_errors.NoSuchWindowException,
    errors.JavascriptException: selenium_errors.JavascriptException,
    errors.ScriptTimeoutException: selenium_errors.TimeoutException,
}


def _selenium_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except errors.MarionetteException as error:
            for theirs, ours in _TRANSLATED.items():
                if isinstance(error, theirs):
                    raise ours(str(error)) from error
            raise
    return wrapper


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Element:
    def __init__(self, element):
        self._element = element

    text = property(_selenium_errors(lambda self: self._element.text))
    click = _selenium_errors(lambda self: self._element.click())
    clear = _selenium_errors(lambda self: self._element.clear())
    is_displayed = _selenium_errors(lambda self: self._element.is_displayed())
    is_enabled = _selenium_errors(lambda self: self._element.is_enabled())
    get_attribute = _selenium_errors(lambda self, name: self._element.get_attribute(name))
    send_keys = _selenium_errors(lambda self, *keys: self._element.send_keys(*keys))
    find_element = _selenium_errors(lambda self, by, value: Element(self._element.find_element(by, value)))


class _SwitchTo:
    def __init__(self, marionette):
        self._marionette = marionette

    @_selenium_errors
    def window(self, handle):
        self._marionette.switch_to_window(handle)


class FirefoxDriver:
    """Headless Firefox ESR with a fresh profile, at a laptop's window size."""

    def __init__(self, log, binary="/usr/bin/firefox-esr", width=1440, height=900):
        # Firefox's own log goes to `log` (by default it lands in the working directory).
        self._marionette = Marionette(bin=binary, headless=True, host="127.0.0.1", port=_free_port(),
                                      startup_timeout=120, gecko_log=log)
        self._marionette.start_session()
        self._marionette.set_window_rect(width=width, height=height)
        self.switch_to = _SwitchTo(self._marionette)

    # Scripts run in the page's own realm (sandbox=None), as WebDriver's do, so they see the
    # page's globals such as window.hearthTerminalText.
    execute_script = _selenium_errors(lambda self, script, *args: self._marionette.execute_script(
        script, script_args=list(args), sandbox=None, new_sandbox=False))
    execute_async_script = _selenium_errors(lambda self, script, *args: self._marionette.execute_async_script(
        script, script_args=list(args), sandbox=None, new_sandbox=False))
    get = _selenium_errors(lambda self, url: self._marionette.navigate(url))
    refresh = _selenium_errors(lambda self: self._marionette.refresh())
    close = _selenium_errors(lambda self: self._marionette.close())
    find_element = _selenium_errors(lambda self, by, value: Element(self._marionette.find_element(by, value)))
    find_elements = _selenium_errors(lambda self, by, value: [Element(e) for e in self._marionette.find_elements(by, value)])
    current_url = property(_selenium_errors(lambda self: self._marionette.get_url()))
    page_source = property(_selenium_errors(lambda self: self._marionette.page_source))
    window_handles = property(_selenium_errors(lambda self: self._marionette.window_handles))
    current_window_handle = property(_selenium_errors(lambda self: self._marionette.current_window_handle))

    def set_window_size(self, width, height):
        self._marionette.set_window_rect(width=width, height=height)

    def get_window_size(self):
        rect = self._marionette.window_rect
        return {"width": rect["width"], "height": rect["height"]}

    def save_screenshot(self, path):
        with open(path, "wb") as f:
            f.write(self._marionette.screenshot(format="binary", full=False))
        return True

    def quit(self):
        try:
            self._marionette.delete_session()
        finally:
            self._marionette.cleanup()
