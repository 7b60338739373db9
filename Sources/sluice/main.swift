SluiceMain.run()
