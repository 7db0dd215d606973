"""Web: the FastAPI app (map, area profiles, left-behind list, uploads, API) over the library.

:func:`neighbourhood_lens.web.app.create_app` builds the app; ``nlens serve`` runs it. The
request handlers call the same library functions as the CLI; uploads are parsed in a bounded
worker pool (:mod:`._jobs`), and map layers and dissolved geometries are cached (:mod:`._geo`,
:mod:`._layers`). FastAPI is imported only here, so ``import neighbourhood_lens`` stays light.
"""
