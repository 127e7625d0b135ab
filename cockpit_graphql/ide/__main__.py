"""python -m cockpit_graphql.ide install|check|list (see assets.py)."""

from cockpit_graphql.ide.assets import main

raise SystemExit(main())
