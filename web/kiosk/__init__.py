"""The check-in kiosk: camera frames read on the server (QR codes; faces in face mode), the kiosk page,
its device-authenticated API, and the `hoinghi kiosk` command for halls with a PC and a USB camera."""
