"""A real SMTP server that demands STARTTLS and AUTH (Debian's python3-aiosmtpd), for the email tests.

usage: smtp_tls_auth.py PORT MAILDIR CERT_PEM KEY_PEM USER PASSWORD [starttls|implicit]
starttls (default): plain connection, STARTTLS required before AUTH and MAIL; implicit: TLS from the first byte (SMTPS).
Messages are delivered to MAILDIR (the Mailbox handler), like the plain sink started with `python3 -m aiosmtpd`.
"""
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:7]
mode = sys.argv[7] if len(sys.argv) > 7 else "starttls"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
if mode == "implicit":
    tls = dict(ssl_context=context, auth_require_tls=False)
else:
    tls = dict(tls_context=context, require_starttls=True, auth_require_tls=True)
controller = Controller(
    Mailbox(maildir), hostname="127.0.0.1", port=int(port), ready_timeout=10,
    auth_required=True, authenticator=authenticator, **tls)
controller.start()
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
