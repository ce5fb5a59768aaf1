"""Local fakes of the services the project talks to, served over HTTPS on 127.0.0.1.

authority.py: a Microsoft Entra ID token authority (OpenID configuration + token endpoint) that
checks client secrets and certificate assertions. graph_server.py: Microsoft Graph's mail API
(MIME or JSON drafts, send with Send As checks, sendMail, $filter on internetMessageId) with
Exchange Online's limits and injectable faults. tls.py: the throw-away certificate and the threaded HTTPS server they share.
"""
