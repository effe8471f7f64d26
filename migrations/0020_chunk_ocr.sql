-- Chunks whose text was recognised from an image (a scanned PDF page, a photo) carry the
-- mean OCR word confidence of their page, 0-100; NULL for text read from the file itself.
ALTER TABLE chunks ADD COLUMN ocr_confidence real;
