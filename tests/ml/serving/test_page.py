"""The function's drawing page in a real headless Chromium (Debian's, installed by `make browser`).

A person draws a stroke, presses Predict, and sees a digit and ten probabilities; the request
the page sent is in the prediction log with that digit. `SCREENSHOTS=<dir>` keeps the page's
screenshot there (the README's is one).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from localcloud.cloud import LocalCloud
from ml.environments import ENVIRONMENTS

LOCAL = ENVIRONMENTS["local"]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{', '.join(missing)} missing: run `make browser` (Debian's chromium and chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # No background connections: this machine's network is closed, and a test page needs none.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=900,640",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def logged_class(cloud: LocalCloud, request_id: str, timeout_s: float = 30) -> int:
    table = f"{LOCAL.project}.{LOCAL.dataset_id}.predictions"
    query = f"SELECT predicted_class FROM `{table}` WHERE request_id = '{request_id}'"
    deadline = time.monotonic() + timeout_s
    while not (rows := list(cloud.context.bigquery.query(query).result())):
        assert time.monotonic() < deadline, f"request {request_id} is not in the prediction log"
        time.sleep(0.5)
    [row] = rows
    return int(row[0])


def test_a_drawn_digit_is_predicted_on_the_page_and_logged(
    mnist_cloud: tuple[LocalCloud, dict[str, Any]], served: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    browser.get(served + "/")
    pad = browser.find_element(By.ID, "pad")
    browser.find_element(By.ID, "predict").click()  # nothing drawn yet
    assert browser.find_element(By.ID, "error").text == "Draw a digit first."

    # A seven: a bar across the top, then a stroke down to the lower left.
    ActionChains(browser).move_to_element_with_offset(pad, -70, -80).click_and_hold().move_by_offset(
        70, 0
    ).move_by_offset(70, 0).move_by_offset(-40, 80).move_by_offset(-40, 80).release().perform()
    browser.find_element(By.ID, "predict").click()
    meta = browser.find_element(By.ID, "meta")
    WebDriverWait(browser, 30).until(lambda _: meta.get_attribute("data-request-id"))

    digit = int(browser.find_element(By.ID, "answer").text)
    bars = browser.find_elements(By.CSS_SELECTOR, "#probabilities .bar")
    probabilities = [float(bar.find_elements(By.TAG_NAME, "span")[1].text) for bar in bars]
    assert len(probabilities) == 10
    assert sum(probabilities) == pytest.approx(1, abs=0.01)
    assert probabilities.index(max(probabilities)) == digit
    assert browser.find_element(By.CSS_SELECTOR, "#probabilities .bar.top").get_attribute("data-digit") == str(digit)
    assert logged_class(mnist_cloud[0], str(meta.get_attribute("data-request-id"))) == digit

    shot = tmp_path / "draw-page.png"
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.save_screenshot(str(shot))
    if target := os.environ.get("SCREENSHOTS"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / "draw-page.png")

    browser.find_element(By.ID, "clear").click()
    assert browser.find_element(By.ID, "answer").text == ""
