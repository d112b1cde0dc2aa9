from vrrpkit.cli.main import main

raise SystemExit(main())
