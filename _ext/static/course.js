// Site JavaScript of the course (added by _ext/course_site.py).
//
// The sidebar buttons. sphinx-book-theme 1.3 draws the visible "☰" (site navigation) and
// "Contents" buttons in the article header, but the scripts of both themes attach their
// click handlers to the *first* .primary-toggle / .secondary-toggle of the page, which
// since pydata-sphinx-theme 0.17 is a hidden button in the top header. The visible buttons
// then do nothing at any width (sphinx-book-theme #988, pydata-sphinx-theme #2451, both
// open). Until the pinned pair fixes it, a click on any other toggle button is handed to
// the first one, which opens the panel on a phone and folds the sidebar on a desktop.
// The browser test (tests/site/test_browser.py) clicks both buttons at 420 px and 1400 px,
// so an upgrade of the themes that fixes or changes this shows up there.
document.addEventListener("DOMContentLoaded", () => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [handled, ...others] = document.querySelectorAll(selector);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        handled.click();
      });
    }
  }
});
