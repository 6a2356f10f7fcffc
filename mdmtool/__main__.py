from mdmtool.cli import main

main()
