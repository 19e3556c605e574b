from tierid.cli import main

if __name__ == "__main__":  # not when a spawned process (the import planner) loads it
    main()
