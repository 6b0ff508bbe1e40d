from emotiondesk.cli.main import main

main()
