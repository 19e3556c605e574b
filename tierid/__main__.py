from tierid.cli import main

main()
