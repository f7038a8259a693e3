#!/usr/bin/python3
"""The web IDE's real flows in headless Chromium or Firefox, against a running Hearth server.

Each flow asserts what the user sees, and checks the workspace through the REST API. A
screenshot of each step goes to --screenshots. Exit status 0 means every flow passed.
Usage: ide_flows.py --url URL --password-file DATA/admin.password --token-file DATA/admin.token --screenshots DIR
                    [--browser chromium|firefox]
Firefox runs through Marionette (see marionette_adapter.py), so it needs a Python with marionette_driver.
"""
import argparse
import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

args = argparse.ArgumentParser()
args.add_argument("--url", required=True)
args.add_argument("--password-file", required=True)
args.add_argument("--token-file", required=True)
args.add_argument("--screenshots", required=True)
args.add_argument("--workspace", default="browser")
args.add_argument("--browser", choices=["chromium", "firefox"], default="chromium")
# The real model's OpenAI-style endpoint (llama.cpp), for the whole agent session flow.
args.add_argument("--llm-base-url")
args.add_argument("--llm-key")
args.add_argument("--llm-model", default="smollm2-135m")
opts = args.parse_args()
os.makedirs(opts.screenshots, exist_ok=True)
password = open(opts.password_file).read().strip()
token = open(opts.token_file).read().strip()


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
    request = urllib.request.Request(opts.url + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def exec_stdout(workspace, argv):
    """Runs argv through the exec API and returns stdout (frames: kind u8, length u32, payload)."""
    raw = api("POST", f"/v1/workspaces/{workspace}/exec", {"argv": argv})
    out, i = b"", 0
    while i + 5 <= len(raw):
        kind, length = raw[i], int.from_bytes(raw[i + 1:i + 5], "big")
        if kind == 1:
            out += raw[i + 5:i + 5 + length]
        i += 5 + length
    return out.decode()


def start_browser():
    if opts.browser == "firefox":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from marionette_adapter import FirefoxDriver
        # A smaller laptop screen than Chromium's, so both sizes are covered.
        return FirefoxDriver(os.path.join(opts.screenshots, "firefox.log"), width=1280, height=720)
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,900", "--disable-gpu"]:
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


driver = start_browser()
print(f"browser: {opts.browser}", flush=True)
wait = WebDriverWait(driver, 60)


def click_fresh(locator):
    """Clicks what `locator` finds, finding it again if the page re-rendered it between the find and
    the click (the file tree re-reads its folder on a refresh, on focus and after Enter in a
    terminal): a stale reference is a reason to look again, not a failure."""
    def attempt(d):
        element = d.find_element(*locator)
        if not (element.is_displayed() and element.is_enabled()):
            return False
        element.click()
        return True
    WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException]).until(attempt)
step = [0]


def shot(name):
    step[0] += 1
    path = os.path.join(opts.screenshots, f"{step[0]:02d}-{name}.png")
    driver.save_screenshot(path)
    print(f"screenshot {path}", flush=True)


def terminal_text():
    return driver.execute_script("return window.hearthTerminalText()") or ""


def wait_terminal(needle, timeout=60):
    WebDriverWait(driver, timeout).until(lambda d: needle in terminal_text(),
                                         message=f"terminal never showed {needle!r}")


def type_in_terminal(text):
    area = driver.find_element(By.CSS_SELECTOR, "#terminals .term:not([style*='hidden']) textarea")
    area.send_keys(text)


def cm_value():
    return driver.execute_script("return document.querySelector('.CodeMirror').CodeMirror.getValue()")


def visible_terminals():
    return len(driver.find_elements(By.CSS_SELECTOR, "#terminals .term"))


def displayed(element_id):
    return driver.execute_script("const e = document.getElementById(arguments[0]); return !!e && e.offsetParent !== null;", element_id)


def width(selector):
    return driver.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().width", selector)


def tree_item(path):
    return (By.CSS_SELECTOR, f"#tree li[data-path='{path}'] > span")


def context_menu(path):
    driver.execute_script("""
        const label = document.querySelector(`#tree li[data-path="${arguments[0]}"] > span`);
        const r = label.getBoundingClientRect();
        label.dispatchEvent(new MouseEvent('contextmenu', {bubbles: true, cancelable: true, clientX: r.left + 5, clientY: r.top + 5}));
    """, path)
    wait.until(EC.visibility_of_element_located((By.ID, "context-menu")))


failures = []


def flow(name):
    def wrap(fn):
        print(f"flow: {name}", flush=True)
        try:
            fn()
            print(f"ok: {name}", flush=True)
        except Exception as error:  # noqa: BLE001 - report every flow
            failures.append(f"{name}: {error}")
            print(f"FAILED: {name}: {error}", flush=True)
            shot("failed-" + name.replace(" ", "-"))
        return fn
    return wrap


try:
    @flow("sign in, create a workspace, open a terminal, echo hi")
    def sign_in_and_echo():
        driver.get(opts.url + "/")
        wait.until(EC.visibility_of_element_located((By.ID, "login-email")))
        # Issue 15, IDE bug 10: the user is `admin`, not an email address.
        label = driver.execute_script("return document.getElementById('login-email').closest('label').textContent")
        assert "user name" in label, f"the sign-in label says {label!r}"
        shot("sign-in")
        driver.find_element(By.ID, "login-email").send_keys("admin")
        driver.find_element(By.ID, "login-password").send_keys("wrong password")
        driver.find_element(By.ID, "login-submit").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "login-error"), "wrong email or password"))
        driver.find_element(By.ID, "login-password").clear()
        driver.find_element(By.ID, "login-password").send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        wait.until(EC.visibility_of_element_located((By.ID, "create-name")))
        driver.find_element(By.ID, "create-name").send_keys(opts.workspace)
        driver.find_element(By.ID, "create-submit").click()
        row = (By.CSS_SELECTOR, f"#workspaces tr[data-name='{opts.workspace}']")
        WebDriverWait(driver, 180).until(EC.presence_of_element_located(row))
        # Issue 15, IDE bug 10: the image column shows a short label, the digest only in its title.
        image = driver.find_element(*row).find_element(By.CSS_SELECTOR, "td:nth-child(4)").text
        assert not image.startswith("sha256:"), f"the image column shows {image!r}"
        # Issue 15, IDE bug 8: the create form's pattern compiles as Chromium compiles it (the v flag).
        compiles = driver.execute_script("""
            const p = document.getElementById('create-name').pattern;
            let flags = 'v'; try { new RegExp('', 'v'); } catch (_) { flags = 'u'; }
            try { new RegExp('^(?:' + p + ')$', flags); return true; } catch (e) { return String(e); }""")
        assert compiles is True, f"the create form's pattern does not compile: {compiles}"
        shot("workspace-list")
        driver.find_element(*row).find_element(By.XPATH, ".//button[text()='Open']").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#terminals .term")))
        wait_terminal(":/workspace")
        type_in_terminal("echo h''i\n")
        wait_terminal("\nhi")
        # The terminal fills its pane, and the shell's PTY has the same size.
        size = driver.execute_script("return window.hearthTerminalSize()")
        assert size and size["cols"] > 100, f"the terminal did not fit its pane: {size}"
        type_in_terminal("stty size\n")
        wait_terminal(f"\n{size['rows']} {size['cols']}")
        shot("terminal-echo")

    @flow("open a file, edit it, save it, check it with exec")
    def edit_and_save():
        ws = opts.workspace
        request = urllib.request.Request(opts.url + f"/v1/workspaces/{ws}/files/content?path=/workspace/notes.txt",
                                         data=b"first line\n", method="PUT", headers={"Authorization": "Bearer " + token})
        urllib.request.urlopen(request, timeout=60).read()
        driver.find_element(By.ID, "refresh-files").click()
        item = (By.CSS_SELECTOR, "#tree li[data-path='/workspace/notes.txt'] > span")
        click_fresh(item)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#editor-tabs .tab.active[data-path='/workspace/notes.txt']")))
        wait.until(lambda d: "first line" in d.execute_script("return document.querySelector('.CodeMirror').CodeMirror.getValue()"))
        driver.execute_script("const cm = document.querySelector('.CodeMirror').CodeMirror;"
                              "cm.replaceRange('edited in the browser\\n', {line: cm.lastLine(), ch: 0});")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#editor-tabs .tab.active .dirty")))
        shot("editor-dirty")
        driver.find_element(By.CSS_SELECTOR, ".CodeMirror textarea").send_keys(Keys.CONTROL, "s")
        wait.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, "#editor-tabs .tab.active .dirty")))
        content = exec_stdout(ws, ["cat", "/workspace/notes.txt"])
        assert content == "first line\nedited in the browser\n", f"file holds {content!r}"
        shot("editor-saved")
        # Changed underneath: the editor says so instead of overwriting.
        exec_stdout(ws, ["sh", "-c", "sleep 1; echo changed elsewhere > /workspace/notes.txt"])
        driver.execute_script("const cm = document.querySelector('.CodeMirror').CodeMirror; cm.replaceRange('more\\n', {line: 0, ch: 0});")
        driver.find_element(By.CSS_SELECTOR, ".CodeMirror textarea").send_keys(Keys.CONTROL, "s")
        wait.until(EC.text_to_be_present_in_element((By.ID, "editor-note"), "changed on disk"))
        assert exec_stdout(ws, ["cat", "/workspace/notes.txt"]) == "changed elsewhere\n"
        shot("editor-conflict")

    @flow("Ctrl-P then Enter on a file that is already open leaves the file as it was")
    def quick_open_enter():
        # Issue 15, IDE bug 4: the Enter that picked the file reached the editor as a newline.
        driver.find_element(By.XPATH, "//div[@id='editor-note']//button[text()='Reload from disk']").click()
        wait.until(lambda d: cm_value() == "changed elsewhere\n")
        driver.find_element(By.CSS_SELECTOR, ".CodeMirror textarea").send_keys(Keys.CONTROL, "p")
        wait.until(EC.visibility_of_element_located((By.ID, "quick-input")))
        driver.find_element(By.ID, "quick-input").send_keys("notes")
        wait.until(EC.text_to_be_present_in_element((By.ID, "quick-results"), "notes.txt"))
        driver.find_element(By.ID, "quick-input").send_keys(Keys.ENTER)
        wait.until(EC.invisibility_of_element_located((By.ID, "quick-open")))
        time.sleep(0.3)  # a stray newline would land right after the pick; nothing to poll for
        assert cm_value() == "changed elsewhere\n", f"the editor now holds {cm_value()!r}"
        assert not driver.find_elements(By.CSS_SELECTOR, "#editor-tabs .tab.active .dirty"), "the file became dirty"

    @flow("Ctrl-P and Ctrl-Shift-P typed in a terminal open the palette, and it has commands")
    def palette_from_terminal():
        # Issue 15, IDE bug 5: both went to the shell, and the palette found no commands.
        before = visible_terminals()
        area = driver.find_element(By.CSS_SELECTOR, "#terminals .term:not([style*='hidden']) textarea")
        area.send_keys(Keys.CONTROL, "p")
        wait.until(EC.visibility_of_element_located((By.ID, "quick-input")))
        driver.find_element(By.ID, "quick-input").send_keys(Keys.ESCAPE)
        wait.until(EC.invisibility_of_element_located((By.ID, "quick-open")))
        area = driver.find_element(By.CSS_SELECTOR, "#terminals .term:not([style*='hidden']) textarea")
        area.send_keys(Keys.CONTROL, Keys.SHIFT, "p")
        wait.until(EC.visibility_of_element_located((By.ID, "quick-input")))
        value = driver.execute_script("return document.getElementById('quick-input').value")
        assert value.startswith(">"), f"the palette opened with {value!r}"
        for name in ["New terminal", "Save file", "Pause workspace", "Toggle file panel"]:
            assert driver.find_elements(By.CSS_SELECTOR, f"#quick-results li[data-command='{name}']"), f"no command {name!r}"
        shot("command-palette")
        driver.find_element(By.ID, "quick-input").send_keys("new term")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#quick-results li.sel[data-command='New terminal']")))
        driver.find_element(By.ID, "quick-input").send_keys(Keys.ENTER)
        wait.until(lambda d: visible_terminals() == before + 1, message="the palette's New terminal opened none")
        wait_terminal(":/workspace")
        # The new shell works, and neither key reached the first one as ^P.
        type_in_terminal("echo pal''ette\n")
        wait_terminal("\npalette")
        driver.find_element(By.CSS_SELECTOR, "#term-tabs .tab.active .x").click()
        wait.until(lambda d: visible_terminals() == before)
        assert "^P" not in terminal_text(), "Ctrl-P reached the shell"

    @flow("the file tree follows the terminal; rename, delete and new file without prompt()")
    def file_tree():
        # Issue 15, IDE bug 10: a file made in a terminal did not appear until Refresh.
        type_in_terminal("touch /workspace/from-terminal.txt\n")
        WebDriverWait(driver, 15).until(EC.presence_of_element_located(tree_item("/workspace/from-terminal.txt")),
                                        message="the tree did not follow the terminal")
        # The context menu and inline inputs that replace prompt().
        context_menu("/workspace/from-terminal.txt")
        shot("file-menu")
        driver.find_element(By.CSS_SELECTOR, "#context-menu li[data-action='rename']").click()
        # The input selects the name without its extension (WebDriver's clear() would blur it).
        field = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#tree .inline-input")))
        field.send_keys("renamed" + Keys.ENTER)
        wait.until(EC.presence_of_element_located(tree_item("/workspace/renamed.txt")))
        listing = exec_stdout(opts.workspace, ["ls", "/workspace"])
        assert "renamed.txt" in listing and "from-terminal.txt" not in listing, listing
        context_menu("/workspace/renamed.txt")
        driver.find_element(By.CSS_SELECTOR, "#context-menu li[data-action='delete']").click()
        driver.find_element(By.CSS_SELECTOR, "#context-menu li[data-action='confirm-delete']").click()
        wait.until(EC.invisibility_of_element_located(tree_item("/workspace/renamed.txt")))
        assert "renamed.txt" not in exec_stdout(opts.workspace, ["ls", "/workspace"])
        # + File: an inline input, then the new file opens in a tab.
        driver.find_element(By.ID, "new-file").click()
        field = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#tree .inline-input")))
        field.send_keys("made.py" + Keys.ENTER)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#editor-tabs .tab.active[data-path='/workspace/made.py']")))
        # Issue 15, IDE bug 10: Python indents 4.
        indent = driver.execute_script("return document.querySelector('.CodeMirror').CodeMirror.getOption('indentUnit')")
        assert indent == 4, f"Python indents {indent}"
        # Issue 15, IDE bug 7: built-ins are readable in the dark theme (not CodeMirror's #3300aa).
        driver.execute_script("document.querySelector('.CodeMirror').CodeMirror.setValue('print(len(\\'x\\'))\\n')")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".CodeMirror .cm-builtin")))
        colour = driver.execute_script("return getComputedStyle(document.querySelector('.CodeMirror .cm-builtin')).color")
        assert colour != "rgb(51, 0, 170)", f"built-ins are {colour} on the dark background"
        driver.find_element(By.CSS_SELECTOR, ".CodeMirror textarea").send_keys(Keys.CONTROL, "s")
        wait.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, "#editor-tabs .tab.active .dirty")))
        assert exec_stdout(opts.workspace, ["cat", "/workspace/made.py"]) == "print(len('x'))\n"
        shot("new-python-file")

    @flow("open tabs come back after a reload")
    def tabs_restored():
        # Issue 15, IDE bug 10.
        driver.refresh()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#editor-tabs .tab[data-path='/workspace/notes.txt']")))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#editor-tabs .tab.active[data-path='/workspace/made.py']")))
        wait.until(lambda d: cm_value() == "print(len('x'))\n")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#terminals .term")))
        wait_terminal(":/workspace")
        shot("tabs-restored")

    def preview_tab(main, port):
        for attempt in range(5):
            try:
                link = driver.find_element(*port)
                href = link.get_attribute("href")
                link.click()
                break
            except StaleElementReferenceException:
                time.sleep(0.2)
        wait.until(lambda d: len(d.window_handles) > 1)
        driver.switch_to.window([h for h in driver.window_handles if h != main][0])
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "notes.txt"))
        assert "Directory listing" in driver.page_source, "no directory listing"
        assert href.endswith("/p/8000/"), href
        assert "/p/8000/~" in driver.current_url, driver.current_url
        shot("preview")
        # A real app: its script, its fetch and its form reach the workspace's server too,
        # though the sandboxed page carries no Hearth cookie.
        for name, content in [("site/index.html", b"<h1>app</h1><form method=post action=echo><input name=q value=v></form><script src=app.js></script>"),
                              ("site/app.js", b"document.body.insertAdjacentHTML('beforeend','<p id=loaded>script loaded</p>');"
                                              b"fetch('data.txt').then(r=>r.text()).then(t=>document.body.insertAdjacentHTML('beforeend','<p id=fetched>'+t+'</p>'));"),
                              ("site/data.txt", b"fetched-data")]:
            put = urllib.request.Request(opts.url + f"/v1/workspaces/{opts.workspace}/files/content?path=/workspace/{name}", data=content,
                                         method="PUT", headers={"Authorization": "Bearer " + token})
            urllib.request.urlopen(put, timeout=60).read()
        driver.get(driver.current_url + "site/")
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "fetched-data"))
        assert "script loaded" in driver.find_element(By.TAG_NAME, "body").text
        shot("preview-app")
        # The page is sandboxed: it cannot call Hearth's API as the user.
        status = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/workspaces').then(r => done(r.status)).catch(e => done('blocked: ' + e));
        """)
        assert status != 200, f"a previewed page reached the API: {status}"

    @flow("start http.server in the terminal, open its preview")
    def preview():
        # Count the page's own requests for the port list from here on.
        driver.execute_script("""
            window.hearthPortFetches = [];
            const original = window.fetch;
            window.fetch = (url, init) => {
                if (String(url).split('?')[0].endsWith('/ports')) window.hearthPortFetches.push(String(url));
                return original(url, init);
            };""")
        type_in_terminal("cd /workspace && (python3 -m http.server 8000 > /tmp/http.log 2>&1 &)\n")
        port = (By.CSS_SELECTOR, "#port-list li[data-port='8000'] a")
        # Issue 15, item 6: the server pushes the new port; the page neither polls nor needs Refresh.
        WebDriverWait(driver, 30).until(EC.presence_of_element_located(port), message="the new port was not pushed")
        polled = driver.execute_script("return window.hearthPortFetches")
        assert polled == [], f"the ports panel asked for the list instead of being told: {polled}"
        shot("ports-panel")
        main = driver.current_window_handle
        try:
            preview_tab(main, port)
        finally:
            if driver.current_window_handle != main:
                driver.close()
            driver.switch_to.window(main)

    @flow("reload the page and see the terminal's scrollback again")
    def reload_replays():
        type_in_terminal("echo before-reload-$((40+2))\n")
        wait_terminal("before-reload-42")
        driver.refresh()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#terminals .term")))
        wait_terminal("before-reload-42")
        type_in_terminal("echo after-reload-$((6*7))\n")
        wait_terminal("after-reload-42")
        shot("reloaded-scrollback")

    @flow("back to the list and into the workspace again: the same terminal, shown, no new shell")
    def return_from_list():
        # Issue 15, IDE bug 6: a blank terminal pane until a tab was clicked; bug 1: each visit
        # opened another shell.
        type_in_terminal("echo visit-$((3*3))\n")
        wait_terminal("visit-9")
        before = visible_terminals()
        driver.find_element(By.ID, "brand").click()
        row = (By.CSS_SELECTOR, f"#workspaces tr[data-name='{opts.workspace}']")
        wait.until(EC.presence_of_element_located(row))
        driver.find_element(*row).find_element(By.XPATH, ".//button[text()='Open']").click()
        wait.until(lambda d: d.execute_script(
            "return !!document.querySelector('#terminals .term:not([style*=\"hidden\"])')"), message="no terminal is shown")
        wait_terminal("visit-9")
        assert visible_terminals() == before, f"{visible_terminals()} terminals after the visit, {before} before"
        shot("returned")

    @flow("pause and resume from the workspace page, with its progress")
    def lifecycle_controls():
        # Issue 15, IDE bug 3: no lifecycle controls, and a paused workspace still offered its
        # ports and "+ Terminal".
        type_in_terminal("UI=kept''-ui; echo ready-$((5+5))\n")
        wait_terminal("ready-10")
        wait.until(EC.element_to_be_clickable((By.ID, "ws-pause"))).click()
        WebDriverWait(driver, 120).until(EC.text_to_be_present_in_element((By.ID, "ws-state"), "paused"))
        wait.until(lambda d: not displayed("new-term"), message="a paused workspace offers + Terminal")
        wait.until(EC.text_to_be_present_in_element((By.ID, "port-list"), "paused"))
        assert not driver.find_elements(By.CSS_SELECTOR, "#port-list a"), "a paused workspace offers its ports"
        assert "paused" in driver.find_element(By.ID, "crumb").text
        assert displayed("ws-resume") and not driver.find_elements(By.ID, "ws-pause")
        shot("paused-from-page")
        driver.find_element(By.ID, "ws-resume").click()
        WebDriverWait(driver, 120).until(EC.text_to_be_present_in_element((By.ID, "ws-state"), "running"))
        wait.until(lambda d: displayed("new-term"))
        deadline = time.time() + 60
        while True:
            try:
                type_in_terminal("echo $UI-$((40+2))\n")
                wait_terminal("kept-ui-42", timeout=5)
                break
            except Exception:
                if time.time() > deadline:
                    raise
        shot("resumed-from-page")

    @flow("pause from the CLI while the page is open, resume, and the same shell works again")
    def pause_and_resume():
        # Issue 15, IDE bug 2: the page said "the workspace agent went away" for ever and its
        # header still said running. Now the socket tells it the state; after the resume the page
        # picks up a working terminal by itself.
        # Issue 15, IDE bug 1: the shell itself survives (its variable is still set), in the same tab.
        # Wait until the shell has run the line: Firefox types key by key, and a pause that lands
        # mid-line loses the rest of it (the input is not the shell's until it is read).
        type_in_terminal("KEPT=surv''ived; echo kept-$((20+3))\n")
        wait_terminal("kept-23")
        tabs = len(driver.find_elements(By.CSS_SELECTOR, "#terminals .term"))
        api("POST", f"/v1/workspaces/{opts.workspace}/pause")
        WebDriverWait(driver, 120).until(lambda d: "paused" in d.find_element(By.ID, "crumb").text,
                                         message="the header never said paused")
        wait_terminal("[workspace paused]")
        shot("paused")
        api("POST", f"/v1/workspaces/{opts.workspace}/resume")
        WebDriverWait(driver, 120).until(lambda d: "running" in d.find_element(By.ID, "crumb").text,
                                         message="the header never said running again")
        wait.until(lambda d: d.execute_script(
            "const t = document.querySelector('#terminals .term:not([style*=\"hidden\"])'); return !!t;"))
        deadline = time.time() + 60
        while True:
            try:
                type_in_terminal("echo $KEPT-after-resume-$((40+2))\n")
                wait_terminal("survived-after-resume-42", timeout=5)
                break
            except Exception:
                if time.time() > deadline:
                    raise
        assert len(driver.find_elements(By.CSS_SELECTOR, "#terminals .term")) == tabs, "the resume opened another shell"
        shot("resumed-terminal")

    @flow("at 800x600 the side panels collapse and resize")
    def small_window():
        # Issue 15, IDE bug 9: the side panels could not be collapsed or resized, which left a
        # 360 px editor.
        size = driver.get_window_size()
        driver.set_window_size(800, 600)
        try:
            wait.until(lambda d: d.execute_script("return window.innerWidth") <= 800)
            for toggle, panel in [("toggle-files", "files"), ("toggle-ports", "ports")]:
                if displayed(panel):
                    driver.find_element(By.ID, toggle).click()
                    wait.until(lambda d: not displayed(panel))
            wait.until(lambda d: width("#editor") >= 700, message=f"the editor is {width('#editor')} px wide")
            shot("small-window-collapsed")
            driver.find_element(By.ID, "toggle-files").click()
            wait.until(lambda d: displayed("files"))
            before = width("#files")
            driver.find_element(By.ID, "split-files").send_keys(Keys.ARROW_RIGHT)
            wait.until(lambda d: width("#files") > before, message="the splitter did not resize the file panel")
            driver.find_element(By.ID, "split-files").send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT)
            wait.until(lambda d: width("#files") < before)
            assert width("#editor") >= 800 - width("#files") - 20
            shot("small-window-resized")
        finally:
            if not displayed("ports"):
                driver.find_element(By.ID, "toggle-ports").click()
            driver.set_window_size(size["width"], size["height"])

    @flow("an agent session from the Agent panel: start it, send a message, see the turn end")
    def agent_panel():
        # A provider on loopback where nothing listens (the test's server allows 127.0.0.0/8 for
        # providers): the turn fails with an error event, which is all this flow needs; no model
        # and no packet beyond loopback.
        api("PUT", "/v1/agent-providers/loopback", {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"})
        driver.find_element(By.ID, "agent-new").click()
        wait.until(EC.visibility_of_element_located((By.ID, "agent-model")))
        driver.find_element(By.ID, "agent-model").send_keys("test-model")
        driver.find_element(By.CSS_SELECTOR, "#agent-start button[type=submit]").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "agent-log"), "session started with test-model"))
        driver.find_element(By.ID, "agent-input").send_keys("hello <b>agent</b>")
        driver.find_element(By.ID, "agent-send").click()
        WebDriverWait(driver, 120).until(EC.text_to_be_present_in_element((By.ID, "agent-status"), "Idle (last turn"))
        text = driver.find_element(By.ID, "agent-log").text
        # What the user, a model or a tool wrote is shown as text, never as HTML.
        assert "hello <b>agent</b>" in text, text
        assert not driver.find_elements(By.CSS_SELECTOR, "#agent-log b"), "the message was rendered as HTML"
        assert driver.find_elements(By.CSS_SELECTOR, "#agent-log .agent-error"), f"no error shown for the failed turn: {text}"
        shot("agent-panel")

    def js(script, *a):
        return driver.execute_script(script, *a)

    HOSTILE_MARKDOWN = """# Title <script>window.__pwned = 1</script>
<img src=x onerror="window.__pwned = 2">
<table background="/w/x/p/8080/?d=1"><tr><td background="/x?d=2">cell</td></tr></table>
<a id="agent-log" name="agent-log" href="javascript:window.__pwned = 3">j</a>

[kept](https://203.0.113.7/docs) [relative](/v1/workspaces) [proto](//203.0.113.8/x) [script](javascript:void(0))

<form action="/v1/session"><input name="password"></form>
<dialog open><a href="https://203.0.113.9/">sign in again</a></dialog>
<div style="position:fixed;inset:0">cover</div>
<svg><circle r="5"/></svg>

```sh
echo hi
```

- [ ] a task
"""

    @flow("a model's Markdown is sanitised: no script, handler, image, background, id, form, overlay or non-http link")
    def markdown_is_sanitised():
        html = driver.execute_async_script("""const done = arguments[arguments.length - 1];
            const hostile = arguments[0];
            import('/static/core/markdown.js').then(async (m) => {
              if (!(await m.loadMarkdown())) return done('marked or DOMPurify did not load');
              const div = document.createElement('div');
              div.append(m.renderMarkdown(hostile, () => {}));
              document.body.append(div);
              setTimeout(() => { const h = div.innerHTML; div.remove(); done(h); }, 200);
            }, (e) => done('import failed: ' + e));""", HOSTILE_MARKDOWN)
        assert "<h1>" in html and "cell" in html and "echo hi" in html, html
        for banned in ["<script", "onerror", "background", " id=", " name=", "<img", "javascript:", "<form", "<input",
                       "<dialog", "style=", "<svg", 'href="/v1', 'href="//']:
            assert banned not in html, f"{banned!r} survived: {html}"
        assert 'href="https://203.0.113.7/docs"' in html and 'rel="noopener noreferrer nofollow"' in html, html
        assert 'class="agent-code-copy"' in html, "no copy button on the code block"
        assert js("return window.__pwned === undefined"), "a script ran"
        assert js("return document.getElementById('agent-log').classList.contains('agent-log')"), "the app's element id was taken"

    @flow("the Network section says what it can: here, that networking is off")
    def network_section():
        driver.find_element(By.CSS_SELECTOR, "#network-pane summary").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "net-mode"), "networking is off"))
        # A 404 about networking is not a deleted workspace: the page stays.
        assert driver.execute_script("return location.hash").startswith("#/w/"), "the page left the workspace"
        shot("network-section")
        driver.find_element(By.CSS_SELECTOR, "#network-pane summary").click()

    @flow("the History section: sync now, the generations, what one changed, and a file as it held it")
    def history_section():
        driver.find_element(By.CSS_SELECTOR, "#history-pane summary").click()
        wait.until(lambda d: d.find_element(By.ID, "hist-durable").text != "")
        for version in ("history-v1", "history-v2"):
            exec_stdout(opts.workspace, ["sh", "-c", f"echo {version} > /workspace/hist.txt"])
            before = len(driver.find_elements(By.CSS_SELECTOR, "#hist-list button"))
            driver.find_element(By.ID, "hist-sync").click()
            WebDriverWait(driver, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hist-list button")) > before)
        wait.until(EC.text_to_be_present_in_element((By.ID, "hist-durable"), "Saved"))
        newest = driver.find_elements(By.CSS_SELECTOR, "#hist-list button")[0]
        assert "sync" in newest.text, newest.text
        newest.click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "hist-diff"), "workspace/hist.txt"))
        [changed] = [b for b in driver.find_elements(By.CSS_SELECTOR, "#hist-diff button") if "workspace/hist.txt" in b.text]
        changed.click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "hist-file"), "history-v2"))
        shot("history-section")
        # The older version put back from the oldest sync that holds it.
        exec_stdout(opts.workspace, ["sh", "-c", "echo history-v3 > /workspace/hist.txt"])
        syncs = [b for b in driver.find_elements(By.CSS_SELECTOR, "#hist-list button") if "sync" in b.text]
        syncs[1].click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "hist-diff"), "hist.txt"))
        [first] = [b for b in driver.find_elements(By.CSS_SELECTOR, "#hist-diff button") if "hist.txt" in b.text]
        first.click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "hist-file"), "history-v1"))
        driver.find_element(By.ID, "hist-restore").click()
        WebDriverWait(driver, 30).until(lambda d: exec_stdout(opts.workspace, ["cat", "/workspace/hist.txt"]) == "history-v1\n")
        driver.find_element(By.CSS_SELECTOR, "#history-pane summary").click()

    # The agent's tools run these commands by name; each is shadowed by a wrapper that waits for
    # /workspace/.go, so a turn is mid-tool-call for as long as the flow needs (not by timing).
    GATE = r"""set -e
for tool in bash head find grep sh; do
  real=$(command -v $tool)
  printf '#!/bin/sh\nwhile [ ! -e /workspace/.go ]; do sleep 0.05; done\nexec %s "$@"\n' "$real" > /usr/local/bin/$tool
  chmod 755 /usr/local/bin/$tool
done"""
    UNGATE = ["/bin/rm", "-f", "/usr/local/bin/bash", "/usr/local/bin/head", "/usr/local/bin/find", "/usr/local/bin/grep",
              "/usr/local/bin/sh", "/workspace/.go"]

    def agent_log_text():
        return js("return document.getElementById('agent-log').innerText")

    @flow("a whole agent session with the real model: its answer streams, a tool step folds open, a reload mid-turn "
          "resumes, the transcript downloads as Markdown, and a step forks and rewinds")
    def agent_session_live():
        if not opts.llm_base_url:
            print("skipped: no model server (--llm-base-url)", flush=True)
            return
        api("PUT", "/v1/agent-providers/llama", {"kind": "openai", "base_url": opts.llm_base_url, "api_key": opts.llm_key})
        exec_stdout(opts.workspace, ["/bin/sh", "-c", GATE])
        home = js("return location.hash")
        try:
            driver.find_element(By.ID, "agent-new").click()
            wait.until(EC.visibility_of_element_located((By.ID, "agent-model")))
            js("document.getElementById('agent-provider').value = 'llama'")
            model = driver.find_element(By.ID, "agent-model")
            model.clear()
            model.send_keys(opts.llm_model)
            driver.find_element(By.CSS_SELECTOR, "#agent-start button[type=submit]").click()
            wait.until(lambda d: "session started with " + opts.llm_model in agent_log_text())
            # One tab per session of the workspace; the new one is shown.
            assert js("return document.querySelectorAll('#agent-tabs .agent-tab').length") == 2
            assert opts.llm_model in js("return document.querySelector('#agent-tabs .agent-tab.active').textContent")
            assert js("return document.getElementById('agent-memory-label').textContent").startswith("Host memory")
            driver.find_element(By.ID, "agent-input").send_keys("List the files in the workspace.")
            driver.find_element(By.ID, "agent-send").click()
            # The tool step runs (held at the gate) and the view says the agent is working.
            WebDriverWait(driver, 120).until(lambda d: js(
                "const t = document.querySelector('#agent-log details.agent-tool'); return !!t && t.textContent.includes('running')"))
            wait.until(EC.text_to_be_present_in_element((By.ID, "agent-status"), "Working"))
            shot("agent-live-working")

            # A reload mid-turn: the stream resumes, every event once, still working.
            driver.refresh()
            WebDriverWait(driver, 60).until(lambda d: js("return !!document.querySelector('#agent-log details.agent-tool')"))
            wait.until(EC.text_to_be_present_in_element((By.ID, "agent-status"), "Working"))
            asked = js("return [...document.querySelectorAll('#agent-log .agent-user')].filter(e => e.textContent.includes('List the files')).length")
            assert asked == 1, f"the question is shown {asked} times after the reload"
            # Watch the answer stream: the streaming cursor shows while its text grows.
            js("""window.__streamed = [];
                new MutationObserver(() => {
                  const c = document.querySelector('#agent-log .agent-assistant .agent-cursor');
                  if (c) window.__streamed.push(c.parentElement.textContent.length);
                }).observe(document.getElementById('agent-log'), {childList: true, subtree: true, characterData: true});""")
            exec_stdout(opts.workspace, ["/bin/touch", "/workspace/.go"])
            WebDriverWait(driver, 180).until(EC.text_to_be_present_in_element((By.ID, "agent-status"), "Idle (last turn"))
            streamed = js("return window.__streamed")
            answer = js("const a = [...document.querySelectorAll('#agent-log .agent-assistant .agent-markdown')]; return a.length ? a[a.length - 1].innerText : ''")
            assert answer.strip(), "no answer shown"
            assert len(streamed) > 0, "the answer never showed while it streamed"
            assert not js("return !!document.querySelector('#agent-log .agent-cursor')"), "the answer still looks unfinished"

            # The tool step is folded; opened, it shows its arguments and its result.
            assert js("return document.querySelector('#agent-log details.agent-tool').open") is False
            driver.find_element(By.CSS_SELECTOR, "#agent-log details.agent-tool summary").click()
            wait.until(lambda d: js("return document.querySelector('#agent-log details.agent-tool').open"))
            assert js("const o = document.querySelector('#agent-log details.agent-tool .agent-out'); return !!o && o.offsetParent !== null")
            shot("agent-live-tool-open")

            # Download the transcript and copy one message, both as Markdown.
            # The page's CSP (connect-src 'self') keeps even the test from fetching a blob: URL, so
            # the Blob itself is kept as the page makes it.
            js("""window.__downloads = [];
                const made = URL.createObjectURL.bind(URL);
                URL.createObjectURL = (blob) => { window.__blob = blob; return made(blob); };
                HTMLAnchorElement.prototype.click = function () { if (this.download) window.__downloads.push([this.download, this.href]); };
                window.__copied = null;
                const fake = async (text) => { window.__copied = text; };
                try { navigator.clipboard.writeText = fake; } catch (_) {}
                if (!navigator.clipboard || navigator.clipboard.writeText !== fake) Object.defineProperty(navigator, 'clipboard', {value: {writeText: fake}});""")
            driver.find_element(By.ID, "agent-download").click()
            WebDriverWait(driver, 30).until(lambda d: js("return window.__downloads.length") == 1)
            name, _ = js("return window.__downloads[0]")
            assert name.startswith("agent-as_") and name.endswith(".md"), name
            markdown = driver.execute_async_script("""const done = arguments[arguments.length - 1];
                window.__blob.text().then(done, e => done(String(e)));""")
            assert "List the files in the workspace." in markdown and "**Tool call**" in markdown, markdown[:400]
            assert opts.llm_key not in markdown
            driver.find_element(By.CSS_SELECTOR, "#agent-log .agent-assistant .agent-copy").click()
            WebDriverWait(driver, 10).until(lambda d: js("return window.__copied") is not None)
            assert js("return window.__copied").startswith("**Agent**")

            # The idle timeout changes from the view.
            js("const s = document.getElementById('agent-idle'); s.value = '3600'; s.dispatchEvent(new Event('change'));")
            session_id = name[len("agent-"):-len(".md")]
            WebDriverWait(driver, 30).until(lambda d: json.loads(api("GET", f"/v1/agent-sessions/{session_id}"))["idle_timeout_seconds"] == 3600)

            # Fork from the last step: a new workspace and session, shown at once.
            steps = js("return [...document.querySelectorAll('#agent-log .agent-fork')].map(b => Number(b.dataset.step))")
            assert 0 in steps and len(steps) >= 2, steps
            js("const f = [...document.querySelectorAll('#agent-log .agent-fork')]; f[f.length - 1].click()")
            WebDriverWait(driver, 120).until(lambda d: js("return location.hash") != home)
            WebDriverWait(driver, 120).until(lambda d: "forked from step" in agent_log_text())
            assert "List the files in the workspace." in agent_log_text()
            shot("agent-live-fork")
            js("location.hash = arguments[0]", home)
            WebDriverWait(driver, 60).until(lambda d: "List the files in the workspace." in agent_log_text())

            # Rewind to the start: two clicks, then the conversation is back before the question.
            rewind = (By.CSS_SELECTOR, "#agent-log .agent-rewind[data-step='0']")
            driver.find_element(*rewind).click()
            wait.until(lambda d: js("return document.querySelector(\"#agent-log .agent-rewind[data-step='0']\").textContent") == "Confirm rewind")
            driver.find_element(*rewind).click()
            WebDriverWait(driver, 120).until(lambda d: "rewound to step 0" in agent_log_text())
            assert "List the files in the workspace." not in agent_log_text()
            shot("agent-live-rewound")
        finally:
            js("location.hash = arguments[0]", home)
            # The rewind restarts the workspace: the gate goes once it answers again.
            def ungated(_):
                try:
                    api("POST", f"/v1/workspaces/{opts.workspace}/exec", {"argv": UNGATE})
                    return True
                except Exception:  # noqa: BLE001 - the workspace is restarting
                    return False
            WebDriverWait(driver, 120, poll_frequency=0.5).until(ungated)

    @flow("the light theme, and a path outside the workspace is refused")
    def refusals():
        driver.find_element(By.ID, "theme").click()
        wait.until(lambda d: d.execute_script("return document.documentElement.dataset.theme") == "light")
        shot("light-theme")
        driver.find_element(By.ID, "theme").click()
        status = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/workspaces/%s/files/content?path=../etc/passwd').then(async r => done([r.status, await r.text()]));
        """ % opts.workspace)
        assert status[0] == 400 and "outside the workspace" in status[1], status

    if opts.browser == "chromium":
        @flow("no script errors in the console")
        def console_is_clean():
            # The IDE's own pages; a preview's errors (its refused call to the API) are the app's.
            errors = [e["message"] for e in driver.get_log("browser")
                      if e.get("source") == "javascript" and "/w/" not in e["message"].split(" ")[0]]
            assert not errors, f"script errors: {errors}"
finally:
    driver.quit()

if failures:
    print("\n".join(failures), file=sys.stderr)
else:
    print("all browser flows passed")
sys.stdout.flush()
sys.stderr.flush()
# Straight out: mozprofile's __del__ otherwise complains during interpreter shutdown, after the
# browser and its profile are already gone.
os._exit(1 if failures else 0)
