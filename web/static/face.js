// Đăng ký khuôn mặt: take one picture with the camera and put it in the form's file field, so the form
// posts exactly as it does without JavaScript (or without a camera: then the file field is used as is).
(function () {
  var form = document.querySelector("[data-face-form]");
  if (!form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.DataTransfer) return;
  var box = form.querySelector("[data-camera]");
  var video = form.querySelector("[data-video]");
  var preview = form.querySelector("[data-preview]");
  var start = form.querySelector("[data-start]");
  var snap = form.querySelector("[data-snap]");
  var denied = form.querySelector("[data-denied]");
  var file = form.querySelector("[data-file]");
  var stream = null;
  box.hidden = false;

  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
  }

  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
                                          audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        preview.removeAttribute("src");
        snap.hidden = false;
        denied.hidden = true;
      })
      .catch(function () { denied.hidden = false; });
  });

  snap.addEventListener("click", function () {
    if (!stream || !video.videoWidth) return;
    var canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob(function (blob) {
      var picture = new File([blob], "khuon-mat.jpg", { type: "image/jpeg" });
      var transfer = new DataTransfer();
      transfer.items.add(picture);
      file.files = transfer.files;
      preview.src = URL.createObjectURL(blob);  // shown on this page only; sent once, with the form
      video.hidden = true;
      snap.hidden = true;
      stop();
    }, "image/jpeg", 0.9);
  });

  window.addEventListener("pagehide", stop);
})();
