"""Code shared by the Ferry services: settings, errors, logging, event names, URL checks."""
