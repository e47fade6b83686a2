"""A Pyramid app and a plain PasteDeploy app factory, loaded from app.ini by `--paste`
(tests/it/paste.rs): each answers with what PasteDeploy gave its factory (global_conf and
the section's settings), where and when it was loaded, the request's SCRIPT_NAME and
PATH_INFO, and how Python's logging was configured, as JSON."""
import json
import logging
import os

from pyramid.config import Configurator

log = logging.getLogger("pyramid_app")


def report(kind, global_config, settings, environ):
    root = logging.getLogger()
    return {
        "kind": kind,
        "global_config": global_config,
        "settings": settings,
        "loaded_in": LOADED[kind],
        "pid": os.getpid(),
        "SCRIPT_NAME": environ.get("SCRIPT_NAME"),
        "PATH_INFO": environ.get("PATH_INFO"),
        "root_level": logging.getLevelName(root.level),
        "root_handlers": sorted(type(h).__name__ for h in root.handlers),
        "app_logger_level": logging.getLevelName(log.level),
    }


LOADED = {}


def main(global_config, **settings):
    """Pyramid's paste entry point (what `pcreate`'s scaffolds generate)."""
    LOADED["pyramid"] = os.getpid()
    with Configurator(settings=settings) as config:
        def echo(request):
            log.info("PASTE-APP handled %s", request.path)
            own = {k: v for k, v in request.registry.settings.items() if k.startswith("app.")}
            return report("pyramid", global_config, own, request.environ)

        config.add_route("echo", "/*rest")
        config.add_view(echo, route_name="echo", renderer="json")
        return config.make_wsgi_app()


def plain(global_config, **local_conf):
    """A bare `paste.app_factory`."""
    LOADED["plain"] = os.getpid()

    def app(environ, start_response):
        body = json.dumps(report("plain", global_config, local_conf, environ)).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app
