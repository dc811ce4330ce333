"The Flower app's components: `flwr run` loads `linceiver_app:server_app` and `linceiver_app:client_app`."
from linceiver.flower import make_client_app, make_server_app

client_app = make_client_app()  # settings from each message's run config
server_app = make_server_app()
