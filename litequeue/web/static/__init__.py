"""The dashboard page and its assets (HTML, JavaScript, CSS), served as they are: no build step."""
