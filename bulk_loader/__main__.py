from bulk_loader.cli import main

main()
