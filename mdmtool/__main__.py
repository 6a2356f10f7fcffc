from mdmtool.entry import main

main()
