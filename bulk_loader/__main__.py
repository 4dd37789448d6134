from bulk_loader.cli.app import main

main()
