"""A real SMTP server that demands STARTTLS and AUTH (Debian's python3-aiosmtpd), for the email tests.

usage: smtp_tls_auth.py PORT MAILDIR CERT_PEM KEY_PEM USER PASSWORD
Messages are delivered to MAILDIR (the Mailbox handler), like the plain sink started with `python3 -m aiosmtpd`.
"""
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:7]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Mailbox(maildir), hostname="127.0.0.1", port=int(port), ready_timeout=10,
    tls_context=context, require_starttls=True, auth_required=True, auth_require_tls=True, authenticator=authenticator)
controller.start()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
